/**
 * `--open`: starts the user's browser on a URL where one exists (a desktop session on Linux, macOS,
 * Windows). Returns what it ran, or why it did not.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export function openBrowser(url: string): { opened: boolean; how: string } {
  let cmd: string | undefined;
  let args: string[] = [url];
  if (process.platform === 'darwin') cmd = 'open';
  else if (process.platform === 'win32') {
    cmd = 'cmd';
    args = ['/c', 'start', '', url];
  } else {
    if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY)
      return { opened: false, how: 'no graphical session (DISPLAY is not set)' };
    cmd = ['xdg-open', 'sensible-browser', 'chromium', 'firefox'].map(onPath).find(Boolean);
    if (!cmd) return { opened: false, how: 'no browser found (xdg-open, chromium or firefox)' };
  }
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    return { opened: true, how: cmd };
  } catch (e) {
    return { opened: false, how: (e as Error).message };
  }
}
