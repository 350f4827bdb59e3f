/**
 * Test worker: swaps two names in a directory with renameat2(RENAME_EXCHANGE) as fast as it
 * can until told to stop, so that a gofer walking one of them races with a symlink.
 *
 * @module
 */

import { AT_FDCWD, RENAME_EXCHANGE, renameAt2 } from "../host/fsops.ts";

// This file runs as a worker; deno check types it as a main module, hence the narrow cast.
const worker = self as unknown as {
  onmessage: (e: MessageEvent<{ dir: string; a: string; b: string } | "stop">) => void;
  postMessage(v: unknown): void;
};

let stop = false;

worker.onmessage = (e) => {
  if (e.data === "stop") {
    stop = true;
    return;
  }
  const { dir, a, b } = e.data;
  worker.postMessage("started");
  const loop = () => {
    for (let i = 0; i < 200 && !stop; i++) {
      renameAt2(AT_FDCWD, `${dir}/${a}`, AT_FDCWD, `${dir}/${b}`, RENAME_EXCHANGE);
    }
    if (stop) {
      worker.postMessage("stopped");
      return;
    }
    setTimeout(loop, 0);
  };
  loop();
};
