import { createRequire as __autoloopCreateRequire } from 'node:module';
import { dirname as __autoloopDirname } from 'node:path';
import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';
const require = __autoloopCreateRequire(import.meta.url);
const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);
const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);
import{a}from"./chunk-XRRN7BU7.js";import"./chunk-3MNVOT3P.js";export{a as RequestError};
