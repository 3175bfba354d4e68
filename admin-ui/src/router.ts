import { createRouter, createWebHistory } from "vue-router";
import { getToken, unauthorizedListeners } from "./api";

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes: [
    { path: "/login", name: "login", component: () => import("./views/LoginView.vue"), meta: { public: true } },
    {
      path: "/",
      component: () => import("./views/LayoutView.vue"),
      children: [
        { path: "", redirect: "/designer" },
        { path: "designer", name: "designer", component: () => import("./views/FormDesignerView.vue") },
        { path: "rules", name: "rules", component: () => import("./views/RulesView.vue") },
        { path: "dry-run", name: "dry-run", component: () => import("./views/DryRunView.vue") },
        { path: "board", name: "board", component: () => import("./views/BoardView.vue") },
        { path: "engineers", name: "engineers", component: () => import("./views/EngineersView.vue") },
      ],
    },
  ],
});

router.beforeEach((to) => {
  if (!to.meta.public && !getToken()) return { name: "login", query: { next: to.fullPath } };
});

unauthorizedListeners.add(() => {
  if (router.currentRoute.value.name !== "login") router.push({ name: "login", query: { next: router.currentRoute.value.fullPath } });
});
