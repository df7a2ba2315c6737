{
  "targets": [
    {
      "target_name": "cartridge_aead",
      "sources": [
        "cartridge-aead.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra"
      ]
    },
    {
      "target_name": "cartridge_crc32c",
      "sources": [
        "cartridge-crc32c.c"
      ],
      "cflags": [
        "-O3",
        "-Wall",
        "-Wextra"
      ]
    },
    {
      "target_name": "cartridge_blake3",
      "sources": [
        "cartridge-blake3.c"
      ],
      "cflags": [
        "-O3",
        "-Wall",
        "-Wextra"
      ]
    },
    {
      "target_name": "cartridge_mapped_file",
      "sources": [
        "cartridge-mapped-file.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra"
      ]
    },
    {
      "target_name": "cartridge_path_watch",
      "sources": [
        "cartridge-path-watch.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra"
      ]
    },
    {
      "target_name": "cartridge_lz4",
      "sources": [
        "cartridge-lz4.c"
      ],
      "cflags": [
        "-O3",
        "-Wall",
        "-Wextra"
      ],
      "libraries": [
        "-lpthread"
      ]
    }
  ]
}
