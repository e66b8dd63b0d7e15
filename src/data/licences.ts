/**
 * Licences a dataset may be registered under: SPDX licence identifiers (https://spdx.org/licenses/),
 * a compact list of the common ones, plus `LicenseRef-<idstring>` for anything else (SPDX's own
 * escape hatch for licences not on its list). Matching is case-insensitive, as in SPDX; the
 * canonical spelling is what gets signed and registered.
 */
import { AgoraError } from '../errors.ts';

export const SPDX_LICENCES: readonly string[] = [
  // public domain and permissive
  '0BSD',
  'Apache-2.0',
  'Artistic-2.0',
  'BlueOak-1.0.0',
  'BSD-1-Clause',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'BSD-3-Clause-Clear',
  'BSL-1.0',
  'CC0-1.0',
  'ISC',
  'MIT',
  'MIT-0',
  'NCSA',
  'PostgreSQL',
  'PSF-2.0',
  'Python-2.0',
  'Unlicense',
  'UPL-1.0',
  'WTFPL',
  'X11',
  'Zlib',
  // copyleft
  'AGPL-3.0-only',
  'AGPL-3.0-or-later',
  'EPL-1.0',
  'EPL-2.0',
  'EUPL-1.2',
  'GPL-2.0-only',
  'GPL-2.0-or-later',
  'GPL-3.0-only',
  'GPL-3.0-or-later',
  'LGPL-2.1-only',
  'LGPL-2.1-or-later',
  'LGPL-3.0-only',
  'LGPL-3.0-or-later',
  'MPL-2.0',
  'OSL-3.0',
  // Creative Commons
  'CC-BY-1.0',
  'CC-BY-2.0',
  'CC-BY-2.5',
  'CC-BY-3.0',
  'CC-BY-4.0',
  'CC-BY-SA-2.0',
  'CC-BY-SA-2.5',
  'CC-BY-SA-3.0',
  'CC-BY-SA-4.0',
  'CC-BY-NC-2.0',
  'CC-BY-NC-3.0',
  'CC-BY-NC-4.0',
  'CC-BY-NC-SA-2.0',
  'CC-BY-NC-SA-3.0',
  'CC-BY-NC-SA-4.0',
  'CC-BY-ND-3.0',
  'CC-BY-ND-4.0',
  'CC-BY-NC-ND-3.0',
  'CC-BY-NC-ND-4.0',
  'CC-PDDC',
  // data licences
  'CDLA-Permissive-1.0',
  'CDLA-Permissive-2.0',
  'CDLA-Sharing-1.0',
  'ODbL-1.0',
  'ODC-By-1.0',
  'PDDL-1.0',
  'OGL-UK-3.0',
  'OGL-Canada-2.0',
  'DL-DE-BY-2.0',
  'DL-DE-ZERO-2.0',
  'etalab-2.0',
  'NLOD-2.0',
  'C-UDA-1.0',
  // documentation and fonts
  'GFDL-1.3-only',
  'GFDL-1.3-or-later',
  'OFL-1.1',
];

const BY_LOWER = new Map(SPDX_LICENCES.map((id) => [id.toLowerCase(), id]));
const LICENSE_REF = /^LicenseRef-[A-Za-z0-9.-]+$/;

/** The canonical SPDX spelling of `licence`, or a clear error. Accepts `LicenseRef-...`. */
export function normalizeLicence(licence: string): string {
  const s = licence.trim();
  const known = BY_LOWER.get(s.toLowerCase());
  if (known) return known;
  if (/^licenseref-/i.test(s)) {
    if (!LICENSE_REF.test(`LicenseRef-${s.slice('LicenseRef-'.length)}`)) {
      throw new AgoraError('LICENCE_BAD_REF', `"${licence}" is not a valid LicenseRef identifier`, {
        hint: 'use LicenseRef- followed by letters, digits, "." or "-", e.g. LicenseRef-my-terms-1.0',
      });
    }
    return `LicenseRef-${s.slice('LicenseRef-'.length)}`;
  }
  const near = SPDX_LICENCES.filter((id) => id.toLowerCase().startsWith(s.toLowerCase().slice(0, 4))).slice(
    0,
    6,
  );
  throw new AgoraError('LICENCE_UNKNOWN', `"${licence}" is not a known SPDX licence identifier`, {
    hint: `use an SPDX id (${near.length > 0 ? `e.g. ${near.join(', ')}` : 'MIT, Apache-2.0, CC-BY-4.0, CC0-1.0, ...'}), or LicenseRef-<name> for other terms`,
  });
}
