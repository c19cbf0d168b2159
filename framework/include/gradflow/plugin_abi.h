/* The binary contract between gradflow and an operator plugin, in plain C.
 *
 * A plugin is a shared library that exports exactly one symbol:
 *
 *   int gradflow_plugin_init(const gradflow_host_info* host, gradflow_plugin_result* result);
 *
 * gradflow calls it once, right after dlopen. The plugin first writes its own API version
 * into result->api_version (so the host can name both versions even when they differ), then
 * checks host->api_version and host->build_fingerprint, and only when both match registers
 * its operators through host->registrar. It returns GRADFLOW_PLUGIN_OK, or an error code with
 * a NUL-terminated message in result->error. No exception may cross this boundary.
 *
 * Plugins do not write this by hand: GRADFLOW_PLUGIN in gradflow/plugin.hpp defines it.
 *
 * Evolution rules: `struct_size` and `api_version` are the first two fields of both structs
 * and keep their place forever; new fields are only appended, and a reader checks
 * struct_size before reading one. A change that breaks existing plugins bumps
 * GRADFLOW_PLUGIN_API_VERSION, and gradflow refuses plugins built for another version.
 */
#ifndef GRADFLOW_PLUGIN_ABI_H
#define GRADFLOW_PLUGIN_ABI_H

#include <stdint.h>

/* 2: Tensor storage carries its size (memory budget). 3: operators describe themselves
   (Operator::outputs_decisions; Loss::reduction, reports_accuracy(producer), check_target,
   class_rule). 4: Operator::export_onnx, an operator's ONNX nodes (gradflow/onnx.hpp).
   5: Operator::check_input, an operator's check of the values fed to it from data.
   6: a narrow contract: the fixed facts of an op move into OpSchema (class_rule,
   outputs_decisions), and the optional abilities become interfaces an operator may implement
   (OnnxExportable, InputChecker, TargetChecker, AccuracyCounter); docs/plugins.md, "Migrating
   from API 5". */
#define GRADFLOW_PLUGIN_API_VERSION 6

/* The one symbol a plugin exports. */
#define GRADFLOW_PLUGIN_ENTRY_SYMBOL "gradflow_plugin_init"

/* Return codes of gradflow_plugin_init. */
#define GRADFLOW_PLUGIN_OK 0
#define GRADFLOW_PLUGIN_ERR_BAD_ARGUMENT 1  /* null or too small structs */
#define GRADFLOW_PLUGIN_ERR_API_VERSION 2   /* host and plugin API versions differ */
#define GRADFLOW_PLUGIN_ERR_FINGERPRINT 3   /* built with another compiler, C++ ABI or gradflow */
#define GRADFLOW_PLUGIN_ERR_REGISTRATION 4  /* the plugin's registration code threw */

#define GRADFLOW_PLUGIN_ERROR_SIZE 512

#ifdef __cplusplus
extern "C" {
#endif

/* What gradflow tells the plugin. Owned by gradflow, valid during the call only. */
typedef struct gradflow_host_info {
  uint32_t struct_size;          /* sizeof(gradflow_host_info) as gradflow was built */
  uint32_t api_version;          /* GRADFLOW_PLUGIN_API_VERSION of gradflow */
  const char* build_fingerprint; /* compiler, C++ library ABI and gradflow version */
  void* registrar;               /* a gradflow::Registrar*; use only when the fingerprint matches */
} gradflow_host_info;

/* What the plugin answers. Owned by gradflow; the plugin fills it in. */
typedef struct gradflow_plugin_result {
  uint32_t struct_size;  /* set by gradflow to the size it allocated */
  uint32_t api_version;  /* set by the plugin: the API version it was built against */
  char error[GRADFLOW_PLUGIN_ERROR_SIZE]; /* set by the plugin when it returns an error */
} gradflow_plugin_result;

typedef int (*gradflow_plugin_init_fn)(const gradflow_host_info* host,
                                       gradflow_plugin_result* result);

#ifdef __cplusplus
}
#endif

#endif /* GRADFLOW_PLUGIN_ABI_H */
