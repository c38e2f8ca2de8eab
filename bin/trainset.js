#!/usr/bin/env node
// Entry point of the `trainset` command: runs the TypeScript CLI through tsx's loader.
'use strict';
const path = require('node:path');
require('tsx/cjs');
require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
