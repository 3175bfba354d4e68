import { defineStore } from "pinia";
import { ref } from "vue";
import { api, getToken, setToken, type Line, type Me } from "../api";

/** The signed-in user, the lines, and the line picked across pages. */
export const useSession = defineStore("session", () => {
  const token = ref<string | null>(getToken());
  const me = ref<Me | null>(null);
  const lines = ref<Line[]>([]);
  const line = ref<string>(localStorage.getItem("gongdan.line") ?? "");

  async function signIn(t: string) {
    setToken(t);
    token.value = t;
    try {
      me.value = await api.me();
    } catch (e) {
      setToken(null);
      token.value = null;
      throw e;
    }
  }

  /** Sign in with a user name and password: the server issues an expiring token. */
  async function signInWithPassword(name: string, password: string) {
    const r = await api.login(name, password);
    await signIn(r.token);
  }

  function signOut() {
    setToken(null);
    token.value = null;
    me.value = null;
  }

  async function loadLines() {
    lines.value = await api.listLines();
    if (!lines.value.some((l) => l.key === line.value) && lines.value.length) pickLine(lines.value[0].key);
  }

  function pickLine(key: string) {
    line.value = key;
    localStorage.setItem("gongdan.line", key);
  }

  return { token, me, lines, line, signIn, signInWithPassword, signOut, loadLines, pickLine };
});
