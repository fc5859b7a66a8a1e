/**
 * The platform name of the native addon: napi-rs's triple names (`linux-x64-gnu`,
 * `darwin-arm64`, `win32-x64-msvc`), used both for the file the build writes and for the
 * per-platform package the loader falls back to. No side effects: the build script reads it.
 */
export function platformTriple(): string {
  const { platform, arch } = process;
  if (platform === "linux") {
    const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
    const libc = report?.header?.glibcVersionRuntime ? "gnu" : "musl";
    return `${platform}-${arch}-${libc}`;
  }
  if (platform === "win32") return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}
