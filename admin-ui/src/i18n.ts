import { createI18n } from "vue-i18n";
import zhCN from "./locales/zh-CN";
import en from "./locales/en";

export const LOCALE_KEY = "gongdan.locale";
export type Locale = "zh-CN" | "en";

const saved = (typeof localStorage !== "undefined" && localStorage.getItem(LOCALE_KEY)) as Locale | null;

export const i18n = createI18n({
  legacy: false,
  locale: saved === "en" ? "en" : "zh-CN",
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": zhCN, en },
});

/** Pick the Chinese or the English text of a bilingual server message. */
export function bi(zh: string | undefined | null, enText: string | undefined | null): string {
  return (i18n.global.locale.value === "en" ? enText || zh : zh || enText) ?? "";
}

export function setLocale(l: Locale): void {
  i18n.global.locale.value = l;
  localStorage.setItem(LOCALE_KEY, l);
  document.documentElement.lang = l;
}
