import { describe, expect, it } from "vitest";
import { tokenize } from "./rulesLang";

const tagsOf = (src: string) => tokenize(src).filter(([, t]) => t !== null);

describe("rules highlighting", () => {
  it("tells keywords, durations, distances, strings and Chinese names apart", () => {
    const toks = tagsOf('sla P0 "停机类":\n    respond 1h30m\n    require distance <= 5km # near\non scan_checkin: 已派单 -> 已到达');
    const find = (text: string) => toks.find(([t]) => t === text)?.[1];
    expect(find("sla")).toBe("keyword");
    expect(find('"停机类"')).toBe("string");
    expect(find("1h30m")).toBe("unit");
    expect(find("5km")).toBe("unit");
    expect(find("# near")).toBe("comment");
    expect(find("已派单")).toBe("variableName");
    expect(find("->")).toBe("operator");
    expect(find("distance")).toBe("variableName.special");
  });

  it("reads /regex/ after matches and / as division elsewhere", () => {
    const toks = tagsOf("when description matches /E-\\d+/ and engineer.load / 2 > 1");
    expect(toks.find(([t]) => t === "/E-\\d+/")?.[1]).toBe("regexp");
    expect(toks.filter(([t]) => t === "/").map(([, tag]) => tag)).toEqual(["operator"]);
  });
});
