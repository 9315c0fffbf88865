/** Installing a Debian package the bench needs, when it runs as root with apt-get. */

function aptGet(...args: string[]): boolean {
  console.log(`$ apt-get ${args.join(" ")}`);
  const result = Bun.spawnSync(["apt-get", ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  });
  return result.exitCode === 0;
}

/** Whether this process may install packages: root, with apt-get on PATH. */
export const canInstallPackages = () => process.getuid?.() === 0 && Bun.which("apt-get") !== null;

/**
 * Installs `pkg` with apt-get, refreshing the package lists only if the first try fails:
 * they usually are fresh enough, and an update is slow. False when it cannot or did not.
 */
export function aptInstall(pkg: string, why: string): boolean {
  if (!canInstallPackages()) return false;
  console.log(`${why}; installing ${pkg} with apt-get`);
  return aptGet("install", "-y", pkg) || (aptGet("update") && aptGet("install", "-y", pkg));
}
