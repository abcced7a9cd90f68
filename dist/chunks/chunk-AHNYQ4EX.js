import { createRequire as __autoloopCreateRequire } from 'node:module';
import { dirname as __autoloopDirname } from 'node:path';
import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';
const require = __autoloopCreateRequire(import.meta.url);
const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);
const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);
import*as o from"node:child_process";import*as r from"node:crypto";import*as m from"node:fs";import*as s from"node:os";import*as t from"node:path";import*as p from"node:stream";import*as a from"node:util";export{o as a,r as b,m as c,s as d,t as e,p as f,a as g};
