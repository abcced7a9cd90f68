#!/usr/bin/env node
import '../lib/cli/index.js';
