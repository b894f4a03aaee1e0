//! A throwaway Redis server (placeholder until the redis integration lands).
