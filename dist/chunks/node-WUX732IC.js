import { createRequire as __autoloopCreateRequire } from 'node:module';
import { dirname as __autoloopDirname } from 'node:path';
import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';
const require = __autoloopCreateRequire(import.meta.url);
const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);
const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);
import{a,b,c,d,e,f,g}from"./chunk-AHNYQ4EX.js";import"./chunk-3MNVOT3P.js";export{a as child_process,b as crypto,c as fs,d as os,e as path,f as stream,g as util};
