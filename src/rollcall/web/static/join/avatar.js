// A participant's avatar: initials on a colour of their own.

export function initials(name) {
  const words = name.trim().split(/\s+/u).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((word) => Array.from(word)[0] || "").join("") || "?";
}

const HUES = [
  "#4338ca",
  "#0f766e",
  "#b45309",
  "#be185d",
  "#1d4ed8",
  "#7e22ce",
  "#15803d",
  "#c2410c",
];

/** A stable colour per name, dark enough for white initials (AA for large text). */
export function avatarColour(name) {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return HUES[hash % HUES.length];
}
