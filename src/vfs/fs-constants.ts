/**
 * The constants of `fs.constants` that the facade's calls take (access modes and copy flags),
 * with Node's values. They are written out here because only the I/O seam imports `node:fs`.
 */
export const FS_CONSTANTS = Object.freeze({
  F_OK: 0,
  R_OK: 4,
  W_OK: 2,
  X_OK: 1,
  COPYFILE_EXCL: 1,
  COPYFILE_FICLONE: 2,
  COPYFILE_FICLONE_FORCE: 4,
});
