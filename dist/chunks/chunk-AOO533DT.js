import { createRequire as __autoloopCreateRequire } from 'node:module';
import { dirname as __autoloopDirname } from 'node:path';
import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';
const require = __autoloopCreateRequire(import.meta.url);
const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);
const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);
var o=".github/autoloop.yml",t=/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,p="autoloop-result.json";export{o as a,t as b,p as c};
