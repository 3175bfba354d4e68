export default {
  app: { title: "工单 · 管理后台", signOut: "退出", language: "English" },
  menu: { designer: "表单设计器", rules: "规则编辑器", dryRun: "试运行", board: "工单看板", engineers: "工程师" },
  login: {
    title: "登录管理后台", token: "访问令牌", tokenHint: "运行 gongdan token create --user 你的名字 --role admin 获取令牌",
    submit: "登录", bad: "令牌无效或已过期",
  },
  common: {
    line: "业务线", pickLine: "选择业务线", save: "保存", cancel: "取消", edit: "编辑", add: "新增", refresh: "刷新",
    delete: "删除", loading: "加载中…", none: "无", yes: "是", no: "否", saved: "已保存", search: "搜索", all: "全部",
    error: "出错了", close: "关闭", version: "版本",
  },
  types: {
    text: "单行文本", textarea: "多行文本", number: "数字", bool: "是/否", select: "下拉单选", multiselect: "多选",
    date: "日期", datetime: "日期时间", phone: "电话", region: "行政区划", location: "位置", device_sn: "设备序列号",
    attachment: "附件", signature: "电子签名",
  },
  designer: {
    palette: "字段类型", paletteHint: "拖到中间画布，或点击添加", canvas: "表单画布", empty: "把左侧的字段拖到这里",
    props: "字段属性", preview: "预览", noSelection: "选择一个字段以编辑属性", label: "字段名称", key: "字段标识",
    keyHint: "小写字母、数字、下划线；用于规则和报表", suggest: "字典建议", useSuggestion: "采用",
    reservedSuggestion: "“{label}”对应平台基础字段 {key}，平台已自动包含，无需添加。",
    required: "必填", options: "选项", optionsHint: "每行一个选项", default: "默认值", help: "帮助文本",
    validation: "校验", min: "最小值", max: "最大值", minLength: "最小长度", maxLength: "最大长度", pattern: "正则",
    saveVersion: "保存为新版本", savedVersion: "已保存为第 {version} 版", fixErrors: "请先修正标红的 {n} 个问题",
    baseFields: "基础字段（平台自动添加）", fieldCount: "{n} 个字段", remove: "移除", duplicate: "复制",
    previewTitle: "客户/坐席看到的表单", json: "字段 JSON",
  },
  rules: {
    versions: "版本", active: "生效中", activate: "启用", activated: "第 {version} 版已启用",
    saveVersion: "保存为新版本", savedVersion: "已保存为第 {version} 版", checking: "检查中…",
    ok: "没有问题", problems: "{errors} 个错误，{warnings} 个警告", fix: "改为 {fix}", diff: "版本对比",
    diffLeft: "左侧版本", diffRight: "右侧版本", open: "打开", created: "创建时间", editor: "编辑",
    rejected: "规则有错误，未保存", newRules: "新建规则",
  },
  dryRun: {
    source: "工单来源", pastTicket: "选取历史工单", byHand: "手工填写", run: "试运行", tier: "SLA 等级",
    why: "原因", respondBy: "响应期限", resolveBy: "解决期限", pool: "派单池", offered: "派给",
    rank: "排名", engineer: "工程师", score: "得分", rejectedBy: "被以下条件排除", passed: "通过",
    noPool: "没有匹配的派单池", noTier: "未匹配任何等级", chart: "候选人得分",
  },
  board: {
    filters: "筛选", tier: "等级", assignee: "处理人", overdue: "仅超时", q: "关键词", noTickets: "暂无工单",
    detail: "工单详情", timeline: "时间线", dispatch: "派单说明", fields: "字段", state: "状态",
    respondBy: "响应期限", resolveBy: "解决期限", newTicket: "新建工单", unassigned: "未分配",
    overdueTag: "已超时", created: "工单 {number} 已创建",
  },
  engineers: {
    name: "姓名", id: "编号", team: "班组", skills: "技能（等级）", load: "负载/上限", onShift: "在班",
    region: "区域", phone: "电话", import: "导入 CSV/Excel", imported: "已导入 {n} 人", edit: "编辑工程师",
    add: "新增工程师", skillName: "技能", level: "等级", addSkill: "添加技能", maxLoad: "负载上限",
    importErrors: "以下行有错误，未导入任何数据",
  },
};
