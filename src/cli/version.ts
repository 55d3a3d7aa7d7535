/** The version `a8 version` prints, with what decides compatibility between hosts. */
import { ABI_VERSION } from "../launch/abi.ts";

export const VERSION = "0.1.0";

export function versionText(): string {
  return [
    `a8 ${VERSION}`,
    `monitor ABI ${ABI_VERSION}`,
    `deno ${Deno.version.deno} (${Deno.build.arch}-${Deno.build.os})`,
  ].join("\n");
}
