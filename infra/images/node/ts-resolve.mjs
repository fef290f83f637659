// Node resolves a relative import exactly as written, but TypeScript code usually leaves the
// extension out (`import { greet } from './helper'`): when such an import is not found, the
// same path with `.ts` is tried. In-thread synchronous hooks: no loader worker to start.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !/^\.\.?\//.test(specifier)) throw error;
      return nextResolve(`${specifier}.ts`, context);
    }
  },
});
