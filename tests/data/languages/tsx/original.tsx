import React from 'react';

interface Props {
  sensor: string;
  capacity: number;
}

// Shows the last readings of one sensor.
export class SensorPanel extends React.Component<Props, { values: number[] }> {
  state = { values: [] as number[] };

  record(value: number): void {
    // Drop the oldest reading once the panel is full.
    const values = [...this.state.values, value].slice(-this.props.capacity);
    this.setState({ values });
  }

  render() {
    return <ul className="readings">{this.state.values.map((v, i) => <li key={i}>{v}</li>)}</ul>;
  }
}

/* Count readings per bucket of width, skipping outliers. */
export function BucketTable(props: { values: number[]; width: number }) {
  const counts = new Map<number, number>();
  let total = 0;
  for (const value of props.values) {
    // Negative readings come from a disconnected probe.
    if (value < 0 || value > 1000) {
      continue;
    }
    const bucket = Math.floor(value / props.width);
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
    total += 1;
  }
  if (total === 0) {
    return <p className="empty">No readings</p>;
  }
  const rows = [];
  for (const [bucket, n] of counts) {
    const share = (n / total) * 100;
    rows.push(<tr key={bucket}><td>{bucket * props.width}</td><td>{share.toFixed(1)}%</td></tr>);
  }
  return <table className="buckets"><tbody>{rows}</tbody></table>;
}
