require 'set'

class Graph
  def initialize
    @edges = Hash.new { |h, k| h[k] = Set.new }
  end

  def connect(a, b)
    @edges[a] << b
    @edges[b] << a
    self
  end

  def reachable(start)
    seen = Set[start]
    queue = [start]
    until queue.empty?
      node = queue.shift
      @edges[node].each { |n| queue.push(n) if seen.add?(n) }
    end
    seen
  end
end
