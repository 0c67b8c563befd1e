// The CommonJS build's web-worker.js (the build copies it over what tsc made of web-worker.ts).
// CommonJS has no module URL, so there is no default worker script: a browser bundle made from
// the CommonJS build runs a threaded compile on one thread unless it is given `worker`.
"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.startDefaultWorker = () => undefined;
exports.defaultWorkerExists = () => false;
