<?php

namespace Shop\Billing;

interface Gateway
{
    public function charge(string $account, int $cents): bool;
}

final class Biller
{
    /** @var list<string> */
    private array $log = [];

    public function __construct(private Gateway $gateway)
    {
    }

    public function settle(string $account, int $cents): bool
    {
        if ($cents <= 0) {
            throw new \InvalidArgumentException('amount must be positive');
        }
        $ok = $this->gateway->charge($account, $cents);
        $this->log[] = sprintf('%s %d %s', $account, $cents, $ok ? 'ok' : 'failed');
        return $ok;
    }

    public function history(): array
    {
        return $this->log;
    }
}
