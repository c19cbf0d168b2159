// A shared library that is not a gradflow plugin: it has no gradflow_plugin_init.
extern "C" __attribute__((visibility("default"))) int some_other_entry() { return 42; }
