{
  # libnodevoy: the Envoy dynamic module that embeds Node 18 (Debian's libnode108). node-gyp is run
  # with --nodedir pointing at libnode's headers (scripts/build-module.sh), so the V8 and N-API
  # headers match the library we embed, not the Node that runs the build.
  "variables": {
    "libnode_prefix%": "<!(bash scripts/setup-libnode.sh)",
  },
  "targets": [
    {
      "target_name": "nodevoy",
      "sources": [
        "host/module/binding/binding.cc",
        "host/module/binding/body.cc",
        "host/module/binding/callouts.cc",
        "host/module/binding/control.cc",
        "host/module/binding/headers.cc",
        "host/module/binding/info.cc",
        "host/module/binding/metrics.cc",
        "host/module/binding/process.cc",
        "host/module/binding/route.cc",
        "host/module/binding/shared.cc",
        "host/module/callouts.cc",
        "host/module/config_registry.cc",
        "host/module/envoy_api.cc",
        "host/module/elf_symbols.cc",
        "host/module/filter_config.cc",
        "host/module/filter_config_json.cc",
        "host/module/header_rules.cc",
        "host/module/hooks.cc",
        "host/module/isolation.cc",
        "host/module/js_call.cc",
        "host/module/log.cc",
        "host/module/loop_poller.cc",
        "host/module/metrics.cc",
        "host/module/node_runtime.cc",
        "host/module/route_config.cc",
        "host/module/sandbox_stats.cc",
        "host/module/shared_store.cc",
        "host/module/stream.cc",
        "host/module/stream_table.cc",
        "host/module/struct_json.cc",
        "host/module/watchdog.cc",
        "host/module/worker_env.cc",
      ],
      "include_dirs": [
        "host/module",
        "host/abi",
        "host/common",
        "<!(node -p \"require('node-addon-api').include_dir\")",
      ],
      "defines": ["NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++20", "-fexceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": [
        "-L<(libnode_prefix)/usr/lib/x86_64-linux-gnu",
        "-Wl,--version-script=<(module_root_dir)/host/abi/module_exports.map",
        "-Wl,-rpath,'$$ORIGIN'",
      ],
      "libraries": ["-lnode", "-luv"],
    }
  ]
}
