/**
 * npm run docs: writes the README's settings table (between its markers) and deploy/pothole.env.example from the
 * settings' schema (src/config/docs.ts). test/unit/config/docs.test.ts fails when either is out of date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { envExample, settingsTable, withSettingsTable } from '../src/config/docs';

const root = path.resolve(__dirname, '..');
const files: [string, (current: string) => string][] = [
  ['README.md', (readme) => withSettingsTable(readme, settingsTable())],
  ['deploy/pothole.env.example', () => envExample()],
];

for (const [file, write] of files) {
  const full = path.join(root, file);
  const current = fs.readFileSync(full, 'utf8');
  const next = write(current);
  if (next === current) {
    console.log(`${file}: up to date`);
  } else {
    fs.writeFileSync(full, next);
    console.log(`${file}: written`);
  }
}
