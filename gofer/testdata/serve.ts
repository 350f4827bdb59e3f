/**
 * Test entry: runs the gofer with this process's arguments (as `runsc gofer` would).
 *
 * @module
 */

import { goferMain } from "../gofer.ts";

Deno.exit(await goferMain(Deno.args));
