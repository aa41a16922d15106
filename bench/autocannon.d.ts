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
    statusCodeStats?: Record<string, { count: number }>
  }
  /** One request of a sequence; `setupRequest` may rewrite it before each send. */
  interface RequestSpec {
    setupRequest?: (request: RequestSpec & { headers?: Record<string, string> }) => RequestSpec
    headers?: Record<string, string>
  }
  interface Options {
    url: string
    headers?: Record<string, string>
    connections?: number
    duration?: number
    method?: string
    body?: string
    /** A fixed number of requests instead of a duration. */
    amount?: number
    requests?: RequestSpec[]
  }
  export default function autocannon(options: Options): Promise<Result>
}
