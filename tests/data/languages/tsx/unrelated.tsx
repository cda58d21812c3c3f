import React, { useEffect, useState } from 'react';

type User = { id: number; name: string };

export function UserList({ url }: { url: string }) {
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetch(url)
      .then((r) => r.json())
      .then(setUsers)
      .catch((e: Error) => setError(e.message));
  }, [url]);

  if (error) {
    return <div role="alert">{error}</div>;
  }
  return (
    <ol>
      {users.map((u) => (
        <li key={u.id}>{u.name}</li>
      ))}
    </ol>
  );
}
