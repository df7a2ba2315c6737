{
  "targets": [
    {
      "target_name": "cartridge_aead",
      "sources": ["cartridge-aead.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
