package main

// Words of the year data set: customers' names, what customers, the bot and agents write, and the
// topics of tags. Bodies are ordinary chat lengths, so a thread's page weighs what a real one does.

var firstNames = []string{
	"María", "José", "Juan", "Ana", "Luis", "Carmen", "Carlos", "Laura", "Jorge", "Lucía", "Pedro", "Sofía",
	"Miguel", "Valentina", "Andrés", "Camila", "Diego", "Isabella", "Fernando", "Daniela", "Ricardo", "Paula",
	"Alejandro", "Gabriela", "Javier", "Mariana", "Roberto", "Natalia", "Eduardo", "Andrea", "Sergio", "Verónica",
	"Raúl", "Patricia", "Héctor", "Claudia", "Óscar", "Mónica", "Pablo", "Elena", "John", "Emily", "Michael",
	"Sarah", "David", "Jessica", "Chris", "Ashley", "Kevin", "Olivia",
}

var lastNames = []string{
	"García", "Martínez", "López", "González", "Rodríguez", "Hernández", "Pérez", "Sánchez", "Ramírez", "Torres",
	"Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Reyes", "Gutiérrez", "Ortiz", "Ruiz", "Jiménez",
	"Mendoza", "Castillo", "Vargas", "Romero", "Herrera", "Medina", "Aguilar", "Castro", "Vázquez", "Ramos",
	"Moreno", "Chávez", "Silva", "Rojas", "Guerrero", "Navarro", "Domínguez", "Salazar", "Ibáñez", "Smith",
	"Johnson", "Williams", "Brown", "Miller", "Wilson", "Taylor", "Anderson", "Thomas", "Moore",
}

var customerLines = []string{
	"Hola, buenas tardes",
	"Hola! Quería saber el estado de mi pedido, lo compré la semana pasada y todavía no me llega",
	"¿Tienen envío a Monterrey?",
	"Sí, es el pedido 48213",
	"Gracias!!",
	"Me llegó el producto dañado, la caja venía abierta y falta una pieza. ¿Qué hago?",
	"¿Puedo pagar en meses sin intereses?",
	"ok",
	"Quiero hablar con una persona por favor",
	"No me ha llegado la factura a mi correo",
	"¿A qué hora abren mañana?",
	"Perfecto, muchas gracias por la ayuda",
	"El número de guía no aparece en la página de la paquetería",
	"¿Me pueden cambiar la talla? Pedí M y necesito L",
	"Buenos días, ¿siguen con la promoción del fin de semana?",
	"Ya hice la transferencia, les mando el comprobante",
	"No entiendo por qué me cobraron dos veces",
	"Sí",
	"👍",
	"Hi, I ordered last Tuesday and the tracking hasn't updated since",
}

var botLines = []string{
	"¡Hola! Soy el asistente virtual. ¿En qué te puedo ayudar hoy?",
	"Para revisar tu pedido necesito el número que aparece en tu correo de confirmación.",
	"Tu pedido está en camino y debería llegar en 2 a 3 días hábiles. Puedes seguirlo con tu número de guía.",
	"Hacemos envíos a todo el país. El envío es gratis en compras mayores a $999.",
	"Sí, aceptamos pago a 3, 6 y 12 meses sin intereses con tarjetas participantes.",
	"Nuestro horario de atención es de lunes a sábado de 9:00 a 19:00.",
	"Entiendo. Voy a pasar tu conversación a una persona del equipo.",
	"¿Hay algo más en lo que te pueda ayudar?",
}

var agentLines = []string{
	"Hola, soy del equipo de atención. Con gusto te ayudo, ¿me compartes tu número de pedido?",
	"Gracias. Ya lo revisé: tu pedido salió ayer de nuestro almacén y llega entre mañana y el jueves.",
	"Lamento mucho lo del producto dañado. ¿Me puedes mandar una foto de la caja y de la pieza?",
	"Listo, ya generé el cambio de talla. Te llegará un correo con la guía de devolución.",
	"Revisé tu cuenta y efectivamente hay un doble cargo; ya solicité el reembolso, se refleja en 5 a 10 días hábiles.",
	"Te reenvié la factura a tu correo, revisa también la carpeta de spam por favor.",
	"¿Hay algo más en lo que te pueda ayudar?",
	"Con gusto, que tengas excelente día.",
	"Un momento por favor, lo consulto con el área de envíos.",
	"Ya quedó, cualquier cosa aquí estamos.",
}

var tagTopics = []string{
	"envio", "pedido", "devolucion", "cambio", "factura", "pago", "reembolso", "garantia", "queja", "promocion",
	"mayoreo", "cotizacion", "producto-danado", "cancelacion", "direccion", "tarjeta", "meses", "transferencia",
	"horario", "tienda", "inventario", "talla", "cupon", "cuenta", "entrega-tardia",
}
