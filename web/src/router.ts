import { createRouter, createWebHistory } from 'vue-router'
import { session, loadSession } from './store'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/inbox' },
    { path: '/login', name: 'login', component: () => import('./views/LoginView.vue') },
    // The forced change after a temporary password, outside the shell: nothing else is open yet.
    { path: '/password', name: 'password', component: () => import('./views/PasswordView.vue') },
    {
      path: '/',
      component: () => import('./views/ShellView.vue'),
      children: [
        { path: 'inbox', name: 'inbox', component: () => import('./views/InboxView.vue') },
        { path: 'inbox/:id(\\d+)', name: 'conversation', component: () => import('./views/InboxView.vue') },
        { path: 'customers', name: 'customers', component: () => import('./views/CustomersView.vue') },
        { path: 'customers/:id(\\d+)', name: 'customer', component: () => import('./views/CustomersView.vue') },
        { path: 'orders', name: 'orders', component: () => import('./views/OrdersView.vue') },
        { path: 'aftersales', name: 'aftersales', component: () => import('./views/AftersalesView.vue') },
        { path: 'reviews', name: 'reviews', component: () => import('./views/ReviewsView.vue') },
        { path: 'reminders', name: 'reminders', component: () => import('./views/RemindersView.vue') },
        { path: 'tickets', name: 'tickets', component: () => import('./views/TicketsView.vue') },
        { path: 'tickets/:id(\\d+)', name: 'ticket', component: () => import('./views/TicketsView.vue') },
        { path: 'scripts', name: 'scripts', component: () => import('./views/ScriptsView.vue') },
        { path: 'segments', name: 'segments', component: () => import('./views/SegmentsView.vue') },
        { path: 'sla', name: 'sla', component: () => import('./views/SlaView.vue') },
        { path: 'reports', name: 'reports', component: () => import('./views/ReportsView.vue') },
        { path: 'reports/kpi', name: 'kpi', component: () => import('./views/KpiView.vue') },
        { path: 'settings', name: 'settings', component: () => import('./views/SettingsView.vue') },
        { path: 'members', name: 'members', component: () => import('./views/MembersView.vue') },
        { path: 'account', name: 'account', component: () => import('./views/AccountView.vue') },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/inbox' },
  ],
})

router.beforeEach(async (to) => {
  if (to.name === 'login') return true
  if (!session.user && !(await loadSession())) return { name: 'login', query: { next: to.fullPath } }
  const user = session.user!
  // A temporary password: the member chooses their own before any other page.
  if (user.must_change_password && to.name !== 'password') return { name: 'password', query: { next: to.fullPath } }
  if (!user.must_change_password && to.name === 'password') return { name: 'inbox' }
  // Members and teams are the managers' page (agents have no entry to it).
  if (to.name === 'members' && user.role === 'agent') return { name: 'inbox' }
  return true
})
