declare const __TSPOD_VERSION__: string;
/** tspod's version, injected by the bundler; `dev` when running the sources directly. */
export const VERSION: string = typeof __TSPOD_VERSION__ === 'string' ? __TSPOD_VERSION__ : '0.0.0-dev';
