import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { onUnauthorized } from './api'
import { clearSession, onSessionEnded } from './store'
import './style.css'

onUnauthorized(() => {
  clearSession()
  if (router.currentRoute.value.name !== 'login')
    router.push({ name: 'login', query: { next: router.currentRoute.value.fullPath } })
})

onSessionEnded((reason) => {
  clearSession()
  router.push({ name: 'login', query: { ended: reason } })
})

createApp(App).use(router).mount('#app')
