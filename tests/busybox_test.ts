/**
 * Busybox in the sandbox: shell scripts of everyday file work (ls, find, grep -r, sed -i, tar,
 * cp -a, mv, ln -s, readlink -f, stat, du, mkfifo, md5sum, sort) run natively and in the
 * sandbox, with the same output required. The rootfs holds only a static busybox; natively it
 * runs chrooted in a private mount namespace with a tmpfs /tmp, /proc and the host's /dev, which
 * is what the sandbox gives it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { PLATFORMS } from "./probe.ts";

const BUSYBOX = "/bin/busybox";
const HAVE_BUSYBOX = (() => {
  try {
    return Deno.statSync(BUSYBOX).isFile;
  } catch {
    return false;
  }
})();

const dec = new TextDecoder();

async function native(script: string): Promise<{ stdout: string; code: number }> {
  const dir = await Deno.makeTempDir({ prefix: "runsc-bb-native-" });
  try {
    for (const d of ["bin", "tmp", "proc", "dev"]) await Deno.mkdir(join(dir, d));
    await Deno.copyFile(BUSYBOX, join(dir, "bin/busybox"));
    await Deno.chmod(join(dir, "bin/busybox"), 0o755);
    const setup = `mount -t tmpfs -o mode=1777 tmpfs ${dir}/tmp && ` +
      `mount -t proc proc ${dir}/proc && mount --bind /dev ${dir}/dev && ` +
      `exec chroot ${dir} /bin/busybox env -i PATH=/bin /bin/busybox sh -c "$SCRIPT"`;
    const r = await new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sh", "-c", setup],
      env: { SCRIPT: script, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { stdout: dec.decode(r.stdout), code: r.code };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function busyboxTest(name: string, script: string): void {
  for (const platform of PLATFORMS) {
    Deno.test({
      name: `busybox ${name} behaves the same in the sandbox (${platform}) as natively`,
      ignore: !IS_ROOT || !HAVE_BUSYBOX,
      async fn() {
        const want = await native(script);
        const bundle = await makeBundle({
          args: ["/bin/busybox", "sh", "-c", script],
          files: { "bin/busybox": BUSYBOX },
          env: ["PATH=/bin"],
        });
        const root = await makeRoot();
        try {
          const got = await root.runsc(
            ["run", "--bundle", bundle.dir, "bb"],
            {},
            [`--platform=${platform}`],
          );
          assert.equal(got.stdout, want.stdout, `stdout differs; stderr: ${got.stderr}`);
          assert.equal(got.code, want.code, `status differs; stderr: ${got.stderr}`);
        } finally {
          await root.cleanup();
          await bundle.cleanup();
        }
      },
    });
  }
}

busyboxTest(
  "file tree (ls -la, find, grep -r, sed -i, cp -a, mv, ln -s, readlink -f, stat, du)",
  `set -e
cd /tmp
mkdir -p work/a/b work/other
echo hello > work/a/b/f1
printf 'line1\\nfoo\\nline3\\n' > work/a/f2
ln -s b/f1 work/a/link
ls -la work/a | awk '{print $1, $2, $5, $9, $10, $11}'
find work | sort
find work -type f -name 'f*' | sort
grep -r foo work
grep -rl line work | sort
sed -i 's/foo/bar/' work/a/f2
cat work/a/f2
cp -a work copy
ls -la copy/a | awk '{print $1, $5, $9, $10, $11}'
mv copy/a/f2 work/other/moved
mv work/other copy/
ls -R copy work
readlink -f work/a/link
readlink work/a/link
stat -c '%n %s %F %a %h' work/a/b/f1 work/a/link work/a work/a/b
du -s work copy
du -a work | sort -k2
touch -d '2020-01-02 03:04:05' work/a/b/f1
stat -c '%y' work/a/b/f1
chmod 600 work/a/b/f1
ls -l work/a/b | awk '{print $1, $NF}'
ln work/a/b/f1 work/hard
stat -c '%h' work/a/b/f1
rm -rf work copy
ls -A
`,
);

busyboxTest(
  "tar c | tar x, md5sum",
  `set -e
cd /tmp
mkdir -p src/d/e
for i in 1 2 3 4 5; do seq $i 1000 > src/d/f$i; done
echo x > src/d/e/deep
ln -s d/f1 src/l
tar cf - src | (mkdir dst && cd dst && tar xf -)
find dst | sort
(cd src && md5sum d/f1 d/f5 d/e/deep)
(cd dst/src && md5sum d/f1 d/f5 d/e/deep)
readlink dst/src/l
tar czf src.tgz src
tar tzf src.tgz | sort
`,
);

busyboxTest(
  "mkfifo, pipes, sort of 100k lines",
  `set -e
cd /tmp
mkfifo fifo
ls -l fifo | cut -c1
(echo through the fifo > fifo &)
cat fifo
seq 100000 | sort -r | head -3
seq 100000 | sort -n -r | head -3
seq 100000 | sort | md5sum
seq 1000 | grep 7 | wc -l
echo a b c | tr ' ' '\\n' | sort -r
`,
);

busyboxTest(
  "md5sum of a 50 MiB file",
  `set -e
cd /tmp
yes abcdefgh | head -c 52428800 > big
md5sum big
ls -l big | awk '{print $5}'
cp big big2
cmp big big2 && echo same
rm big big2
df /tmp > /dev/null && echo df ok
`,
);
