// Types of the scripts library (话术) API (crates/kefu-http/src/routes/scripts.rs).

export interface ScriptCategory {
  id: number
  name: string
  position: number
}

export interface Script {
  id: number
  shop_id: number
  /** null = shop-wide; an agent's id = that agent's personal script */
  owner_id: number | null
  category_id: number
  category: string
  title: string
  body: string
  shortcut: string | null
  tags: string[]
  created_at: string
  updated_at: string
}

export interface ScriptHit extends Script {
  score: number
}

export interface ScriptInput {
  category_id: number
  title: string
  body: string
  shortcut: string | null
  tags: string[]
  personal: boolean
}

export interface Rendered {
  text: string
  missing: string[]
  script_id: number | null
}

export interface ScriptVariable {
  name: string
  label: string
}

export interface ImportReport {
  created: number
  updated: number
  failed: number
  /** Each refused row: its file line, the field, a reason code (errorText.js IMPORT_REASONS) and the English reason. */
  errors: { line: number; field?: string; code?: string; message: string }[]
}

export interface ScriptStatsRow {
  script_id: number
  title: string
  category: string
  owner_id: number | null
  uses: number
  conversations: number
  converted: number
  conversion_rate: number
  last_used_at: string | null
}
