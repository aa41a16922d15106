// The part of autocannon's API the benchmarks use (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    average: number
    p99: number
  }
  interface Result {
    requests: Histogram & { total: number }
    latency: Histogram
    errors: number
    non2xx: number
  }
  interface Options {
    url: string
    headers?: Record<string, string>
    connections?: number
    duration?: number
    method?: string
    body?: string
  }
  export default function autocannon(options: Options): Promise<Result>
}
