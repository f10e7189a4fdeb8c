// Loads one customer's profile and keeps it fresh: a `customer.updated` event for it (an edit in
// another tab, a merge, a block) reloads it, so the sidebar and the detail page never go stale.
import { onBeforeUnmount, ref, watch, type Ref } from 'vue'
import { customersApi, ApiError } from '../api'
import { live } from '../store'
import type { CustomerProfile, FieldDef } from '../types/customers'

let fieldsCache: Promise<FieldDef[]> | null = null
/** The shop's custom field definitions (cached for the page's life; settings call `forgetFields`). */
export function loadFields(): Promise<FieldDef[]> {
  if (!fieldsCache) fieldsCache = customersApi.fields().then((r) => r.fields, (e) => ((fieldsCache = null), Promise.reject(e)))
  return fieldsCache
}
export function forgetFields() {
  fieldsCache = null
}

/**
 * `follow`: when the record was merged away, show the one it went into (the sidebar beside an old
 * conversation); without it the merged record itself is shown (the detail page says where it went).
 */
export function useCustomer(id: Ref<number | null>, follow = false) {
  const profile = ref<CustomerProfile | null>(null)
  const fields = ref<FieldDef[]>([])
  const error = ref('')
  const loading = ref(false)

  async function reload() {
    const cid = id.value
    if (!cid) {
      profile.value = null
      return
    }
    loading.value = true
    try {
      let [{ customer }, defs] = await Promise.all([customersApi.get(cid), loadFields().catch(() => [])])
      // A chain of merges is at most a few hops (merging re-points older ones at the new target).
      for (let hop = 0; follow && customer.merged_into && hop < 3; hop++) {
        customer = (await customersApi.get(customer.merged_into)).customer
      }
      if (id.value !== cid) return
      profile.value = customer
      fields.value = defs
      error.value = ''
    } catch (e) {
      error.value = e instanceof ApiError ? e.code : 'unknown'
    } finally {
      loading.value = false
    }
  }

  const off = live.on((ev) => {
    if (ev.type !== 'customer.updated' || !id.value) return
    if (ev.customer_id === id.value || ev.customer_id === profile.value?.id) void reload()
  })
  onBeforeUnmount(() => off())
  watch(id, () => void reload(), { immediate: true })
  return { profile, fields, error, loading, reload }
}
