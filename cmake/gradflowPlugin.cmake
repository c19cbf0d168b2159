# gradflow_add_plugin(NAME SOURCES...): builds an operator plugin, lib<NAME>.so.
#
# The library links gradflow::gradflow, compiles with hidden visibility and links with a
# version script, so that it exports gradflow_plugin_init and nothing else
# (docs/plugins.md). Used in gradflow's own tree (plugins/, tests/plugins/) and, through
# find_package(gradflow), by plugins built out of tree.
if(CMAKE_VERSION VERSION_LESS 3.17)  # CMAKE_CURRENT_FUNCTION_LIST_DIR
  message(FATAL_ERROR "gradflow_add_plugin needs CMake 3.17 or newer")
endif()
include_guard(GLOBAL)

function(gradflow_add_plugin name)
  if(NOT ARGN)
    message(FATAL_ERROR "gradflow_add_plugin(${name}): no source files given")
  endif()
  set(map "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/gradflow_plugin.map")
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE gradflow::gradflow)
  target_compile_features(${name} PRIVATE cxx_std_20)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    SUFFIX ".so"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON
    LINK_DEPENDS "${map}")
  if(NOT APPLE AND NOT WIN32)
    target_link_options(${name} PRIVATE
      "LINKER:--version-script=${map}"
      "LINKER:--no-undefined")
  endif()
endfunction()
