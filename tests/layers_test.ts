/**
 * The layer boundaries of DESIGN.md hold: tools/imports.ts finds no import they forbid (sentry/
 * importing boot/ or oci/, a kernel layer importing the syscall files, mm importing tasks or
 * files).
 *
 * @module
 */

import assert from "node:assert/strict";
import { analyze } from "../tools/imports.ts";

Deno.test("no import crosses a layer boundary (tools/imports.ts)", () => {
  assert.deepEqual(analyze().forbidden, []);
});
