import { createRequire as __autoloopCreateRequire } from 'node:module';
import { dirname as __autoloopDirname } from 'node:path';
import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';
const require = __autoloopCreateRequire(import.meta.url);
const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);
const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);
var n={ok:0,error:1,usage:2,config:3,failed:4,tampered:5,interrupted:130},r=class extends Error{exitCode=n.error;subject;constructor(t,e={}){super(t,"cause"in e?{cause:e.cause}:void 0),this.subject=e.subject??{}}};export{n as a,r as b};
