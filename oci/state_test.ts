import assert from "node:assert/strict";
import { join } from "node:path";
import { newState, StateError, StateStore, validateId, writeFileAtomic } from "./state.ts";

Deno.test("validateId() accepts plain ids and refuses paths", () => {
  for (const id of ["c1", "my_container.2", "A-b"]) validateId(id);
  for (const id of ["", "a/b", "..", ".", "a..b", "x y", "../etc"]) {
    assert.throws(() => validateId(id), StateError, `id ${JSON.stringify(id)}`);
  }
});

Deno.test("writeFileAtomic() replaces the file and leaves no temp files", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const f = join(dir, "state.json");
    writeFileAtomic(f, "one");
    writeFileAtomic(f, "two");
    assert.equal(Deno.readTextFileSync(f), "two");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["state.json"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("StateStore.reserve() refuses an existing id", async () => {
  const root = Deno.makeTempDirSync();
  try {
    const store = new StateStore(root);
    const lock = await store.reserve(newState("c1", "/b", {}));
    lock.release();
    assert.equal(store.read("c1").status, "creating");
    assert.deepEqual(store.list(), ["c1"]);
    await assert.rejects(() => store.reserve(newState("c1", "/b", {})), /already exists/);
    store.remove("c1");
    assert.deepEqual(store.list(), []);
    assert.throws(() => store.read("c1"), /does not exist/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("StateStore.lock() serializes two concurrent writers", async () => {
  const root = Deno.makeTempDirSync();
  try {
    const store = new StateStore(root);
    (await store.reserve(newState("c1", "/b", {}))).release();
    const events: string[] = [];
    const writer = async (name: string) => {
      using lock = await store.lock("c1");
      void lock;
      events.push(`${name} in`);
      const s = store.read("c1");
      await new Promise((r) => setTimeout(r, 50));
      store.write({ ...s, annotations: { ...s.annotations, [name]: "x" } });
      events.push(`${name} out`);
    };
    await Promise.all([writer("a"), writer("b")]);
    // Each writer's read-modify-write ran alone, so neither update was lost.
    assert.deepEqual(Object.keys(store.read("c1").annotations).sort(), ["a", "b"]);
    assert.equal(events[0].split(" ")[0], events[1].split(" ")[0]);
    assert.equal(events[2].split(" ")[0], events[3].split(" ")[0]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("StateStore.lock() on an unknown container is a clear error", async () => {
  const root = Deno.makeTempDirSync();
  try {
    await assert.rejects(
      () => new StateStore(root).lock("nope"),
      /container "nope" does not exist/,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
