// Loaded by mocha before any spec: tsyringe needs reflect-metadata first.
import 'reflect-metadata';
