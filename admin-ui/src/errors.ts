import { ElMessage } from "element-plus";
import { ApiError } from "./api";
import { bi } from "./i18n";

/** Show any error as a message in the current language (with per-field entries). */
export function showError(e: unknown): void {
  if (e instanceof ApiError) {
    const extra = e.extra.map((x) => `${x.key}: ${bi(x.message_zh, x.message_en)}`).join("；");
    ElMessage.error({ message: bi(e.message_zh, e.message_en) + (extra ? `（${extra}）` : ""), duration: 6000 });
  } else if (e instanceof TypeError) {
    // fetch() rejects with a TypeError when the server cannot be reached.
    ElMessage.error(bi("无法连接服务器，请检查网络或稍后再试", "Cannot reach the server; check the network and try again"));
  } else {
    ElMessage.error(String((e as Error)?.message ?? e));
  }
}
