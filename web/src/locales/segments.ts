// UI texts of the segments area, merged into the console's dictionaries by ../i18n.ts.
// Keys are prefixed with the area's name; `en` must carry every key of `zh`.

export const zh = {}

export const en: typeof zh = {}
