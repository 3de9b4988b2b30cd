import WSClient
import NIOSSL
