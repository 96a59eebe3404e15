// The core API: one method per verb. Never imports yargs, never writes to stdout.
import type { GlobalOptions } from '../cli/globals.js';

export class Engine {
  private constructor(readonly globals: GlobalOptions) {}

  static async open(globals: GlobalOptions): Promise<Engine> {
    return new Engine(globals);
  }
}
