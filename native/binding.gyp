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
      "target_name": "cartridge_blake3",
      "sources": [
        "cartridge-blake3.c"
      ],
      "cflags": [
        "-O3",
        "-Wall",
        "-Wextra"
      ]
    }
  ]
}
