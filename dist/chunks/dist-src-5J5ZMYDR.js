import { createRequire as __autoloopCreateRequire } from 'node:module';
import { dirname as __autoloopDirname } from 'node:path';
import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';
const require = __autoloopCreateRequire(import.meta.url);
const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);
const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);
import{a as t,c as o,d as r,e}from"./chunk-UTISEBGY.js";import"./chunk-XRRN7BU7.js";import"./chunk-3MNVOT3P.js";var i="22.0.1";var a=t.plugin(e,o,r).defaults({userAgent:`octokit-rest.js/${i}`});export{a as Octokit};
