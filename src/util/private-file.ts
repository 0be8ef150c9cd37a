// Writing a secret to disk: owner-only from the first byte, and whole or not at all.
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Write `text` to `file` (its directory made if missing) with mode 0600, through a renamed temporary file. */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, text, { mode: 0o600 });
  // The mode given to writeFile is masked by the umask; chmod is not.
  await chmod(`${file}.tmp`, 0o600);
  await rename(`${file}.tmp`, file);
}
