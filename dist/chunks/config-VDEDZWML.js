import { createRequire as __autoloopCreateRequire } from 'node:module';
import { dirname as __autoloopDirname } from 'node:path';
import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';
const require = __autoloopCreateRequire(import.meta.url);
const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);
const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);
import{s as a,t as b,u as c,v as d,w as e}from"./chunk-NALS3DIU.js";import"./chunk-AOO533DT.js";import"./chunk-5ZRYYPCA.js";import"./chunk-3MNVOT3P.js";export{a as CONFIG_HINT,c as ConfigError,d as configHash,b as formatConfigIssue,e as parseConfig};
